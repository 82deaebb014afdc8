"""The control plane: runs, activity runs and run logs (SQLAlchemy 2, Alembic).

Import from the submodules (`overture.store.repository`, `.status`, `.ids`): this
package imports nothing, so the pure planner can use the statuses without loading
SQLAlchemy and Alembic.
"""

"""What an operator watches: Prometheus metrics, health checks and structured logs.

The hooks the engine calls (`metrics.run_started`, `logs.log_context`, ...) cost
nothing until the server enables them: CLI commands import neither prometheus_client
nor any handler.
"""

"""What `overture serve` runs besides HTTP: the lifecycle of campaigns, the scheduler
and the pool of workers that execute runs. Usable without a server (tests drive it
with a clock they control)."""

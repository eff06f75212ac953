"""End-to-end load benchmark of the screening and audit services (``make bench``).

``python -m benchmarks`` publishes a realistic shipment stream into fresh topics of the running
local runtime, runs both services as subprocesses, and measures throughput, end-to-end latency
and audit persistence against two baselines taken in the same run (a raw aiokafka
consume→produce passthrough and a raw PostgreSQL COPY). See docs/benchmarks.md.
"""

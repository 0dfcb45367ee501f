"""devtools: what ./dev, the tests and the benchmarks use to run the service locally — find or start
PostgreSQL and Redis, start our processes from the Procfile, and the demo over the simulated agents."""

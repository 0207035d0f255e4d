"""Pydantic request/response schemas, one module per resource. The worker reads `jobs.JobSpec`."""

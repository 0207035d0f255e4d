"""The commands that start Trainyard's server processes (API, worker, migrations) and the demo."""

"""The fast tier: library functions, stage entry points that stop on bad input, and checks of the project's files;
no pipeline run, no `dvc repro`, no Prefect server, no training subprocess, no browser (`make test-fast`)."""

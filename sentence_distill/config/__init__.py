"""params.yaml: its schema, the checks of the inputs it names, and the loader every stage calls."""

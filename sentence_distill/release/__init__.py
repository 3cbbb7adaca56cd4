"""The release stage's library: each model of a run as a shareable folder with a model card of its own figures."""

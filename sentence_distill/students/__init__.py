"""Students: how each kind is built from the teacher and distilled on its embeddings."""

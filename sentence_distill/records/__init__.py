"""The files stages hand each other, as typed records: one definition per file, used by its writer and every reader."""

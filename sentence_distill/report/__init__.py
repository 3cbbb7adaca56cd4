"""The trade-off report: rows from the metrics, tables, sections and charts."""

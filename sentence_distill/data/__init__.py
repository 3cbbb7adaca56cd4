"""The data the pipeline reads: prepared corpus, STSb pairs, evaluation articles, parallel pairs."""

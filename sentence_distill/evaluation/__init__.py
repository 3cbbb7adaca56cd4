"""Evaluation of every model: STSb and the task families, each against the teacher."""

"""The exercises of the course, one module per topic, each with its test cases and mistakes."""

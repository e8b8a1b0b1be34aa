"""Architecture rules checked on the source tree: layering, no Python UDFs, docs in step with the code."""

"""Speed comparisons against baselines measured in the same run (``rnnlab bench``)."""

"""alnb."""

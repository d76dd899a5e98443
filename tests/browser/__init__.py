"""Helpers of the notebook-UI tests: model choice, notebook parameter overrides, a private JupyterLab."""

"""Outputs: CSV writers for Excel, the HTML report, the terminal summary and the run manifest."""

"""ddriqa.datasets"""

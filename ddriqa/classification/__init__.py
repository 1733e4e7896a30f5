"""ddriqa.classification"""

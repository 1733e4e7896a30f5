"""ddriqa.training"""

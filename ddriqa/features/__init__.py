"""ddriqa.features"""

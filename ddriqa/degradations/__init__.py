"""ddriqa.degradations"""

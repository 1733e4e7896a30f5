"""ddriqa.analysis"""

"""ddriqa.models"""

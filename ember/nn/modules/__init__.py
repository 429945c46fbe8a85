"""nn layers"""

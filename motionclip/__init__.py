"""motionclip"""

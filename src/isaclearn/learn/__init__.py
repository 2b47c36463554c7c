"""isaclearn.learn"""

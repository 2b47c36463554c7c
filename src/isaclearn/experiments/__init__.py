"""isaclearn.experiments"""

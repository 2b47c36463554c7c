"""isaclearn.rl"""

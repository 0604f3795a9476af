"""Scripts that learn ranking parts from questions with gold articles (`python -m index.learn.fit`).

Anything learned from an evaluation file is produced here, re-runnably, and reported with
held-out (cross-validated) figures next to the train-fit ones.
"""

"""Graph passes: pure functions Graph -> Graph, one per module; ``pipeline`` lists the order."""

"""How many graphs ``torch.compile`` makes of a model: a counting dynamo backend that runs each graph as traced."""

import torch


def compiled_with_graph_count(model):
    """``(compiled model, graphs)``: ``graphs`` collects every FX graph dynamo hands over (one = no graph break)."""
    graphs = []

    def counting(gm, example_inputs):
        graphs.append(gm)
        return gm.forward

    torch._dynamo.reset()
    return torch.compile(model, backend=counting), graphs

"""badge: its gradient embedding is the loss gradient of a linear layer, checked by autograd."""

import numpy as np
import torch

from al_bench.strategies.badge import gradient_embedding


def test_gradient_embedding_is_the_autograd_loss_gradient_of_a_linear_layer():
    """For the layer z = W x + b and the cross-entropy with the predicted label ŷ as target, the
    gradient with respect to [W, b] equals gradient_embedding([x, 1], softmax(z)), row-major (C, d+1)."""
    rng = np.random.default_rng(0)
    N, d, C = 40, 6, 4
    x = rng.normal(size=(N, d))
    layer = torch.nn.Linear(d, C).double()
    with torch.no_grad():  # spread logits: a mix of confident and uncertain rows
        layer.weight.copy_(torch.as_tensor(rng.normal(0, 1.5, (C, d))))
    xt = torch.as_tensor(x)
    probs = torch.softmax(layer(xt), dim=1).detach().numpy()
    g = gradient_embedding(np.concatenate([x, np.ones((N, 1))], axis=1), probs)
    assert g.shape == (N, C * (d + 1))
    for i in range(N):
        z = layer(xt[i : i + 1])
        loss = torch.nn.functional.cross_entropy(z, z.argmax(dim=1))
        gw, gb = torch.autograd.grad(loss, [layer.weight, layer.bias])
        expected = torch.cat([gw, gb[:, None]], dim=1).numpy().ravel()
        np.testing.assert_allclose(g[i], expected, rtol=1e-10, atol=1e-12)

"""The CIFAR ResNet script: BasicBlocks (3x3 convolutions, BatchNorm2d, ``out +=
shortcut(x)`` with a 1x1 convolution shortcut where the shape changes, an empty
``Sequential`` otherwise), ``avg_pool2d`` and a Linear head on 3x16x16 images;
CrossEntropyLoss, SGD with momentum, Nesterov and weight decay, a CosineAnnealingLR or
MultiStepLR stepped every epoch; the test pass under ``eval()`` and ``no_grad``
(``outputs.max(1)``, accuracy).

Compared: losses, final parameters and BatchNorm statistics, and the test pass against
torch; compiled module and compiled step against eager irgrad.
"""

from __future__ import annotations

import numpy as np
import pytest

import irgrad

from .common import Training, against_eager, against_torch, assert_whole, tensors


def build(lib):
    nn, F = lib.nn, lib.nn.functional

    class BasicBlock(nn.Module):
        expansion = 1

        def __init__(self, in_planes, planes, stride=1):
            super().__init__()
            self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=1, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.shortcut = nn.Sequential()
            if stride != 1 or in_planes != self.expansion * planes:
                self.shortcut = nn.Sequential(
                    nn.Conv2d(in_planes, self.expansion * planes, kernel_size=1, stride=stride, bias=False),
                    nn.BatchNorm2d(self.expansion * planes),
                )

        def forward(self, x):
            out = F.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            out += self.shortcut(x)
            return F.relu(out)

    class ResNet(nn.Module):
        def __init__(self, block, num_blocks, num_classes=10):
            super().__init__()
            self.in_planes = 8
            self.conv1 = nn.Conv2d(3, 8, kernel_size=3, stride=1, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(8)
            self.layer1 = self._make_layer(block, 8, num_blocks[0], stride=1)
            self.layer2 = self._make_layer(block, 16, num_blocks[1], stride=2)
            self.layer3 = self._make_layer(block, 16, num_blocks[2], stride=2)
            self.linear = nn.Linear(16 * block.expansion, num_classes)

        def _make_layer(self, block, planes, num_blocks, stride):
            layers = []
            for s in [stride] + [1] * (num_blocks - 1):
                layers.append(block(self.in_planes, planes, s))
                self.in_planes = planes * block.expansion
            return nn.Sequential(*layers)

        def forward(self, x):
            out = F.relu(self.bn1(self.conv1(x)))
            out = self.layer3(self.layer2(self.layer1(out)))
            out = F.avg_pool2d(out, 4)
            return self.linear(out.view(out.size(0), -1))

    return ResNet(BasicBlock, [2, 1, 1])


SCHEDULERS = {
    "cosine": lambda lib, opt: lib.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=4),
    "multistep": lambda lib, opt: lib.optim.lr_scheduler.MultiStepLR(opt, milestones=[1, 3], gamma=0.1),
}


def make_trainer(schedule):
    def trainer(lib, model, wrap):
        net = wrap(model)
        criterion = lib.nn.CrossEntropyLoss()
        optimizer = lib.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)
        scheduler = SCHEDULERS[schedule](lib, optimizer)
        model.train()

        def train_step(inputs, targets):
            optimizer.zero_grad()
            loss = criterion(net(inputs), targets)
            loss.backward()
            optimizer.step()
            return loss.detach()

        return Training(train_step, scheduler.step)

    return trainer


def evaluate(lib, model, inputs, targets):
    """The script's test(): summed loss and accuracy in eval mode."""
    model.eval()
    with lib.no_grad():
        outputs = model(inputs)
        loss = lib.nn.CrossEntropyLoss()(outputs, targets).item()
        _, predicted = outputs.max(1)
        correct = predicted.eq(targets).sum().item()
    return loss, correct


def batches(n: int = 4, size: int = 4):
    rng = np.random.default_rng(14)
    return [
        (rng.standard_normal((size, 3, 16, 16)).astype(np.float32), rng.integers(0, 10, size))
        for _ in range(n)
    ]


@pytest.mark.parametrize("schedule", list(SCHEDULERS))
def test_trains_as_torch(torch, schedule):
    mine, theirs = against_torch(torch, build, make_trainer(schedule), batches())
    data = batches(1, 8)[0]
    (loss_m, correct_m), (loss_t, correct_t) = (
        evaluate(lib, model, *tensors(lib, data)) for lib, model in ((irgrad, mine), (torch, theirs))
    )
    np.testing.assert_allclose(loss_m, loss_t, rtol=1e-4)
    assert correct_m == correct_t


def test_compiled_trains_as_eager():
    explained = against_eager(build, make_trainer("cosine"), batches())
    for explanation in explained["model"]:
        assert_whole(explanation, graphs=1)
    assert_whole(explained["step"], graphs=2)

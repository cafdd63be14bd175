"""An LSTM classifier on variable-length sequences, batched with packing.

Task: each sequence holds 5-30 numbers in [0, 1); the label says whether its first
number is larger than its last. The model must read each sequence to its own end,
which is what packing gives: h_n is taken at every sequence's true last step.

Run: python examples/lstm_packed.py
"""

from _progress import Progress

import irgrad as torch
import irgrad.nn as nn
from irgrad.nn.utils.rnn import pack_padded_sequence, pad_sequence


def make_data(n: int):
    lengths = torch.randint(5, 31, (n,))
    sequences = [torch.rand(int(length), 1) for length in lengths]
    labels = torch.tensor([int(s[0, 0].item() > s[-1, 0].item()) for s in sequences])
    return sequences, lengths, labels


class SequenceClassifier(nn.Module):
    def __init__(self, hidden: int = 32) -> None:
        super().__init__()
        self.lstm = nn.LSTM(input_size=1, hidden_size=hidden, batch_first=True)
        self.head = nn.Linear(hidden, 2)

    def forward(self, padded, lengths):
        packed = pack_padded_sequence(padded, lengths, batch_first=True, enforce_sorted=False)
        _, (h_n, _) = self.lstm(packed)
        return self.head(h_n[-1])


def evaluate(model, sequences, lengths, labels) -> float:
    with torch.no_grad():
        logits = model(pad_sequence(sequences, batch_first=True), lengths)
    return (logits.argmax(dim=1) == labels).float().mean().item()


def main(epochs: int = 20, batch_size: int = 64) -> float:
    torch.manual_seed(0)
    train = make_data(2048)
    test = make_data(512)
    model = SequenceClassifier()
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-3)
    loss_fn = nn.CrossEntropyLoss()
    sequences, lengths, labels = train
    progress = Progress(range(1, epochs + 1), "epoch")
    for _ in progress:
        order = torch.randperm(len(sequences))
        total = 0.0
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            batch = [sequences[int(i)] for i in idx]
            optimizer.zero_grad()
            loss = loss_fn(model(pad_sequence(batch, batch_first=True), lengths[idx]), labels[idx])
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            total += loss.item() * len(idx)
        progress.report(f"loss {total / len(sequences):.4f}  test accuracy {evaluate(model, *test):.4f}")
    final = evaluate(model, *test)
    print(f"LSTM test accuracy: {final:.4f}")
    return final


if __name__ == "__main__":
    main()

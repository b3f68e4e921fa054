"""steps.py - the two steps of the example: make a data set, or train on one."""
import argparse
import os

import numpy as np


def make_data(rows, noise, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 2))
    y = (x[:, 0] + 0.5 * x[:, 1] + rng.normal(scale=noise, size=rows) > 0).astype(float)
    return x, y


def prepare(args):
    x, y = make_data(args.rows, args.noise, seed=1)
    out = os.path.join(os.environ["MLTF_OUTPUT_DIR"], args.out)
    np.savez(out, x=x, y=y)
    print(f"rows={args.rows}")
    print(f"positive_fraction={y.mean():.4f}")


def train(args):
    x, y = make_data(2000, 0.1, seed=1)
    weights = np.zeros(3)
    features = np.hstack([x, np.ones((len(x), 1))])
    for epoch in range(args.epochs):
        predicted = 1 / (1 + np.exp(-features @ weights))
        gradient = features.T @ (predicted - y) / len(y)
        weights -= args.learning_rate * gradient
        loss = -np.mean(y * np.log(predicted + 1e-9) + (1 - y) * np.log(1 - predicted + 1e-9))
        print(f"loss={loss:.5f}", flush=True)
    accuracy = np.mean((features @ weights > 0) == (y > 0.5))
    print(f"accuracy={accuracy:.4f}")
    np.save(os.path.join(os.environ["MLTF_OUTPUT_DIR"], "weights.npy"), weights)


parser = argparse.ArgumentParser()
commands = parser.add_subparsers(dest="step", required=True)
prepare_parser = commands.add_parser("prepare")
prepare_parser.add_argument("--rows", type=int, required=True)
prepare_parser.add_argument("--noise", type=float, required=True)
prepare_parser.add_argument("--out", required=True)
train_parser = commands.add_parser("train")
train_parser.add_argument("--learning-rate", type=float, required=True)
train_parser.add_argument("--epochs", type=int, required=True)
train_parser.add_argument("--optimizer", choices=["sgd"], required=True)
args = parser.parse_args()
prepare(args) if args.step == "prepare" else train(args)

"""train.py - fit a random forest on the wine data set and keep the model as an artifact."""
import argparse
import json
import os
import pickle

from sklearn.datasets import load_wine
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split

parser = argparse.ArgumentParser()
parser.add_argument("--n-estimators", type=int, required=True)
parser.add_argument("--max-depth", type=int, required=True)
parser.add_argument("--test-size", type=float, required=True)
args = parser.parse_args()

data = load_wine()
x_train, x_test, y_train, y_test = train_test_split(
    data.data, data.target, test_size=args.test_size, random_state=int(os.environ.get("MLTF_SEED", 0)))

model = RandomForestClassifier(n_estimators=args.n_estimators, max_depth=args.max_depth,
                               random_state=0, warm_start=True)
# Grow the forest in steps so the metric has a history.
for trees in range(10, args.n_estimators + 1, 10):
    model.set_params(n_estimators=trees)
    model.fit(x_train, y_train)
    print(f"accuracy={accuracy_score(y_test, model.predict(x_test)):.4f}", flush=True)

predicted = model.predict(x_test)
print(f"f1_macro={f1_score(y_test, predicted, average='macro'):.4f}")

model_dir = os.path.join(os.environ["MLTF_OUTPUT_DIR"], "model")
os.makedirs(model_dir, exist_ok=True)
with open(os.path.join(model_dir, "model.pkl"), "wb") as out:
    pickle.dump(model, out)
with open(os.path.join(model_dir, "features.json"), "w") as out:
    json.dump(list(data.feature_names), out)
print("model saved to", model_dir)

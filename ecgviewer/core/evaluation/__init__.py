"""Evaluation mode: measure a local model on a labelled ECG set the way ECGBench does.

* `datasets`: read a labelled set (CSV / JSONL / ECGBench JSON) into `EvalItem`s;
* `runner`: answer every item through an `AnswerFn`, one synced JSONL row each, resumable;
* `parsing`, `metrics`, `scoring`: read predictions and compute ECGBench's metrics
  (compatible) beside a strict reading;
* `compare`, `text_output`, `report`: two runs side by side, terminal tables, PDF;
* `model_answers`: the seam where the model runtime plugs in.

Nothing here imports Qt; numpy and reportlab are imported by the modules that need them.
"""

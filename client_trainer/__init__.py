"""The client: buys CLIP embeddings from the vendor over HTTP and distils them into a student.

Everything it knows about the teacher comes through `teacher.TeacherClient`; it never imports
the vendor's code. Entry points: `python -m client_trainer` (see `cli.py`) and the library
functions in `pipeline.py` (`buy_embeddings`, `train_run`, `evaluate_checkpoint`).
"""

"""The capstone method, one module per stage: files in, files out, each in a folder named by the stage's key.

`store.stage` turns a function into a stage: it runs at most once per key (`keys.stage_key`: inputs by content,
the code the stage's module reaches per `codegraph`, library versions) and publishes its folder atomically.
The Prefect tasks in `tasks/` are thin wrappers that cache under the same key.
"""

"""An Open Job Description job bundle (specification 2023-09) for one batch.

Three steps, each a ``shotfill farm step ...`` call against one shared state
folder (journal and cache), so a retried task never pays twice:

1. ``Submit`` plans the batch, applies ``--max-cost`` and submits every
   provider job (it does not wait for them);
2. ``Media``, one task per placeholder (a parameter space over the placeholder
   keys), waits for its job, downloads and conforms (or renders, offline);
3. ``Place`` places every filled placeholder, writes the timelines and the report.

The job parameters default to the exported run's values, so the bundle runs as
it is (``openjd run DIR/template.yaml``); a farm may override them, e.g. to
point ``ShotFill`` at the command on its workers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional, Sequence

from shotfill.errors import ConfigError
from shotfill.system.files import make_dirs, write_text

SPECIFICATION = "jobtemplate-2023-09"
#: what a STRING job parameter may hold (the 2023-09 schema's limit)
MAX_STRING = 1024


def step_args(step: str, *more: str) -> list[str]:
    return ["farm", "step", step, "--timelines", "{{Param.Timelines}}", "--output", "{{Param.Output}}",
            "--state-dir", "{{Param.StateDir}}", "--options", "{{Param.FillOptions}}", *more]


def _action(args: list[str]) -> dict[str, Any]:
    return {"actions": {"onRun": {"command": "{{Param.ShotFill}}", "args": args}}}


def job_template(*, name: str, shotfill: str, timelines: Sequence[str], output: str, state_dir: str,
                 options: Sequence[str], keys: Sequence[str]) -> dict[str, Any]:
    """The job template as data (``keys``: the placeholders, one Media task each).

    Paths are STRING parameters, absolute: the specification allows a PATH
    parameter's default only inside the bundle's own folder, and the job's
    defaults must run it as exported.  Every worker mounts the shared storage
    at the same path, as for the Dask executor.
    """
    timelines_json = json.dumps(list(timelines))
    options_json = json.dumps(list(options))
    for label, text in (("the timelines' paths", timelines_json), ("the fill options", options_json)):
        if len(text) > MAX_STRING:
            raise ConfigError(f"farm export: {label} take {len(text)} characters, more than an Open Job "
                              f"Description parameter holds ({MAX_STRING})",
                              hint="export fewer timelines per bundle (or pass a folder of them)")
    params: list[dict[str, Any]] = [
        {"name": "ShotFill", "type": "STRING", "default": shotfill,
         "description": "The shotfill command on the workers (a path, or a name found on their PATH)."},
        {"name": "Timelines", "type": "STRING", "default": timelines_json,
         "description": "The timelines to fill: a JSON list of paths on the shared storage."},
        {"name": "Output", "type": "STRING", "default": output,
         "description": "The filled timeline (a folder for a batch of timelines)."},
        {"name": "StateDir", "type": "STRING", "default": state_dir,
         "description": "Journal and cache on the shared storage: a retried task resumes, never pays twice."},
        {"name": "FillOptions", "type": "STRING", "default": options_json, "minLength": 2,
         "description": "The rest of the `shotfill fill` options, as a JSON list."},
    ]
    steps: list[dict[str, Any]] = [{"name": "Submit", "script": _action(step_args("submit"))}]
    if keys:
        steps.append({
            "name": "Media", "dependencies": [{"dependsOn": "Submit"}],
            "parameterSpace": {"taskParameterDefinitions": [
                {"name": "Placeholder", "type": "STRING", "range": list(keys)}]},
            "script": _action(step_args("media", "--placeholder", "{{Task.Param.Placeholder}}")),
        })
    steps.append({"name": "Place", "dependencies": [{"dependsOn": "Media" if keys else "Submit"}],
                  "script": _action(step_args("place"))})
    return {"specificationVersion": SPECIFICATION, "name": name[:128],
            "description": "ShotFill: generate, conform and place the GEN: placeholders of an edit.",
            "parameterDefinitions": params, "steps": steps}


def validate(template: dict[str, Any]) -> Optional[str]:
    """None when openjd-model accepts the template; the reason when it does not; "unchecked" without it."""
    try:
        from openjd.model import DecodeValidationError, decode_job_template
    except ImportError:
        return "unchecked"
    try:
        decode_job_template(template=template)
    except DecodeValidationError as exc:
        return str(exc)
    return None


def _yaml(data: Any) -> str:
    try:
        import yaml
    except ImportError:   # JSON is YAML too
        return json.dumps(data, indent=2) + "\n"
    return str(yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100))


def write_bundle(folder: Path, template: dict[str, Any]) -> tuple[Path, Path]:
    """DIR/template.yaml and DIR/parameter_values.yaml (the defaults, in the form ``deadline bundle submit`` reads)."""
    make_dirs(folder)
    values = {"parameterValues": [{"name": p["name"], "value": p["default"]}
                                  for p in template["parameterDefinitions"]]}
    tpl, vals = folder / "template.yaml", folder / "parameter_values.yaml"
    write_text(tpl, _yaml(template))
    write_text(vals, _yaml(values))
    return tpl, vals

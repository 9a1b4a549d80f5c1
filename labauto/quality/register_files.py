"""The register as a folder of YAML files, one per item (``<asset id>.yaml``).

A lab keeps the folder in git: every change (a calibration recorded, a quarantine) is a diff of
one small file.  Files are read with file:line errors.  A new item's file is written in the
canonical order of ``Item.to_dict()``; a change to an existing file is applied to its text
(:func:`labauto.yamledit.edit`), so the lab's comments, order and quoting stay and only the
changed lines differ.  The file is replaced atomically, under the folder's lock.
"""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import yaml

from labauto.errors import LabautoError, SourceError
from labauto.files import pid_lock, write_durably
from labauto.quality.records import Item, RegisterError, item_from_mapping
from labauto.quality.register import ChangingStore
from labauto.yamledit import edit
from labauto.yamlsource import SourceMap, load

HEADER = ("# labauto equipment register item (docs/quality.md). One file per item; "
          "`labauto register` rewrites it.\n")


class FileRegister(ChangingStore):
    """Items in ``folder/*.yaml``; ``create`` makes the folder."""

    def __init__(self, folder: Path, *, create: bool = False):
        self.folder = Path(folder)
        self.location = str(self.folder)
        if create:
            self.folder.mkdir(parents=True, exist_ok=True)
        elif not self.folder.is_dir():
            raise RegisterError(f"register folder {self.folder} does not exist; create it with "
                                f"`labauto register init {self.folder}`")

    def _path(self, asset_id: str) -> Path:
        return self.folder / f"{asset_id}.yaml"

    def _read(self, path: Path) -> Item:
        doc = load(path)
        item = item_from_mapping(doc.data, doc.source)
        if item.asset_id != path.stem:
            raise SourceError(str(path), doc.source.line(("asset_id",)),
                              f"asset_id {item.asset_id!r} does not match the file name "
                              f"{path.name!r} (an item's file is <asset id>.yaml)")
        return item

    def items(self) -> list[Item]:
        out: list[Item] = []
        seen: dict[tuple[str, str, str], Path] = {}
        for path in sorted(self.folder.glob("*.yaml")):
            item = self._read(path)
            key = (item.manufacturer.casefold(), item.model, item.serial)
            if key in seen:
                raise SourceError(str(path), None, f"{item.manufacturer} {item.model} serial "
                                  f"{item.serial} is also registered in {seen[key]}")
            seen[key] = path
            out.append(item)
        return out

    def get(self, asset_id: str) -> Item:
        path = self._path(asset_id)
        if not path.is_file():
            raise RegisterError(f"no item {asset_id!r} in the register {self.location} "
                                f"(no file {path.name})")
        return self._read(path)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with pid_lock(self.folder / ".register.lock", timeout_s=10.0) as ok:
            if not ok:
                raise RegisterError(f"the register {self.location} is being changed by another "
                                    "process; try again")
            yield

    def _write(self, item: Item, previous: Item | None = None) -> None:
        path = self._path(item.asset_id)
        text = HEADER + yaml.safe_dump(item.to_dict(), sort_keys=False, allow_unicode=True,
                                       width=100)
        if previous is not None:
            try:
                edited = edit(path.read_text(encoding="utf-8"), previous.to_dict(), item.to_dict())
                same = item_from_mapping(yaml.safe_load(edited), SourceMap(str(path))) == item
            except (yaml.YAMLError, LabautoError, ValueError, TypeError, KeyError, IndexError):
                same = False        # the change is never lost: then the file is rewritten whole
            # the edited text is used only when it reads back as exactly the new record
            if same:
                text = edited
        write_durably(path, text.encode("utf-8"))

    def add(self, item: Item) -> Item:
        with self._locked():
            if self._path(item.asset_id).exists():
                raise RegisterError(f"item {item.asset_id!r} is already in the register "
                                    f"{self.location}")
            other = next((i for i in self.items() if i.matches(item.manufacturer, item.model,
                                                                item.serial)), None)
            if other is not None:
                raise RegisterError(f"{item.manufacturer} {item.model} serial {item.serial} is "
                                    f"already registered as {other.asset_id}")
            self._write(item)
        return item

    def _change(self, asset_id: str, change: Callable[[Item], Item]) -> Item:
        with self._locked():
            old = self.get(asset_id)
            new = change(old)
            self._write(new, old)
        return new

"""``flyrun.types.file``: where flytekit programs import ``FlyteFile`` and its typed aliases from
(``flytekit.types.file``). Each alias is a ``FlyteFile`` whose blob format names the kind of file."""

from flyrun.data.files import FlyteFile

CSVFile = FlyteFile["csv"]
HTMLPage = FlyteFile["html"]
JPEGImageFile = FlyteFile["jpeg"]
PNGImageFile = FlyteFile["png"]
PDFFile = FlyteFile["pdf"]
SVGImageFile = FlyteFile["svg"]
PythonPickledFile = FlyteFile["python-pickle"]
JoblibSerializedFile = FlyteFile["joblib"]
PythonNotebook = FlyteFile["ipynb"]

__all__ = ["CSVFile", "FlyteFile", "HTMLPage", "JPEGImageFile", "JoblibSerializedFile", "PDFFile", "PNGImageFile",
           "PythonNotebook", "PythonPickledFile", "SVGImageFile"]

"""``flyrun.types.file``: where flytekit programs import ``FlyteFile`` and its typed aliases from
(``flytekit.types.file``). Each alias is a ``FlyteFile`` whose blob format names the kind of file."""

from flyrun.data.files import FlyteFile
from flyrun.types.tensorflow import TFRecordFile

# FlyteFile["fmt"] at run time; spelled as the call so type checkers read a value, not a generic alias.

CSVFile = FlyteFile.__class_getitem__("csv")
HTMLPage = FlyteFile.__class_getitem__("html")
JPEGImageFile = FlyteFile.__class_getitem__("jpeg")
PNGImageFile = FlyteFile.__class_getitem__("png")
PDFFile = FlyteFile.__class_getitem__("pdf")
SVGImageFile = FlyteFile.__class_getitem__("svg")
PythonPickledFile = FlyteFile.__class_getitem__("python-pickle")
JoblibSerializedFile = FlyteFile.__class_getitem__("joblib")
PythonNotebook = FlyteFile.__class_getitem__("ipynb")

__all__ = ["CSVFile", "FlyteFile", "HTMLPage", "JPEGImageFile", "JoblibSerializedFile", "PDFFile", "PNGImageFile",
           "PythonNotebook", "PythonPickledFile", "SVGImageFile", "TFRecordFile"]

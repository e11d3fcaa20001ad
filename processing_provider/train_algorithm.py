"""``edc:train``: train EDC weights on a dataset folder, in the background, with the bundled training script."""

import json
import os

from qgis.core import (QgsProcessingAlgorithm, QgsProcessingException, QgsProcessingOutputString,
                       QgsProcessingParameterBoolean, QgsProcessingParameterDefinition, QgsProcessingParameterEnum,
                       QgsProcessingParameterFile, QgsProcessingParameterFileDestination,
                       QgsProcessingParameterNumber)
from qgis.PyQt.QtGui import QIcon

from ..model.errors import EDCCancelled, EDCError
from ..model.vocabulary import ARCHITECTURES as ARCHITECTURE_IDS
from ..model.vocabulary import DATASET_KINDS, PRESET_NAMES, SAR_WIDTH_RANGE
from .common import DEVICES, PLUGIN_DIR, flowing

_KIND_LABELS = {"auto": "Detect from the folder layout", "ombria": "OMBRIA (S1 VV + S2 B11/B8/B3 PNGs, flood mask)",
                "m3m_cr": "M3M-CR (PlanetScope + Sentinel-1 + WorldCover, cloud masks)",
                "whu_opt_sar": "WHU-OPT-SAR (optical/, sar/, lbl/ GeoTIFFs)",
                "generic": "Generic (classes.json + optical/, sar/, label/ GeoTIFFs)"}
_ARCHITECTURE_LABELS = {"edc": "EDC", "dense_tristream": "Dense tri-stream (baseline)",
                        "optical_only": "Optical only (baseline)", "sar_only": "SAR only (baseline)",
                        "early_concat": "Early concatenation (baseline)"}
# (id, label) in the enums' order; the ids are the core's (model.vocabulary, torch-free)
KINDS = [(kind, _KIND_LABELS[kind]) for kind in ("auto", *DATASET_KINDS)]
ARCHITECTURES = [(arch, _ARCHITECTURE_LABELS[arch]) for arch in ARCHITECTURE_IDS]
PRESETS = list(PRESET_NAMES)

HELP = """<p>Trains EDC weights on a <b>dataset folder</b> with the same code as the command-line script
<code>python -m model.train</code>, and writes a weights file (<code>.pt</code>) that <i>edc:segment</i> can use.</p>
<h3>Dataset folder</h3>
<ul><li><b>OMBRIA</b>: OmbriaS1/ and OmbriaS2/ with train/AFTER and train/MASK.</li>
<li><b>M3M-CR</b>: train/planet_cloudy_*, planet_cloudfree_*, S1_*, landcover_*, cloudmask_*.</li>
<li><b>WHU-OPT-SAR</b>: optical/, sar/, lbl/ GeoTIFFs with the same names.</li>
<li><b>Generic</b>: classes.json (list of {"name", "color"}) and optical/, sar/, label/ GeoTIFFs with the same names,
optionally cloudfree/ and cloud_mask/. Label value k = class k, 255 = no label.</li></ul>
<p>Datasets without real cloudy/clear pairs get synthetic clouds. With distillation on, a teacher network is first
trained on cloud-free optical + SAR, then the EDC student. Training runs in the background; progress is shown and
<b>Cancel</b> stops after the current batch. Every epoch writes a checkpoint in the <b>work folder</b> (default: next
to the weights file); tick <b>Resume</b> to continue a cancelled run with the same settings. The work folder also gets
log.csv and plots of the loss, per-class IoU and confusion matrix.</p>
<p>Training on a CPU is slow: start with the <i>tiny</i> or <i>small</i> preset and a few epochs. Keep crops of
at least 160 px (default 192): in smaller ones EDC's attention stages see a single window, and the carrier tokens
that link windows learn nothing.</p>"""


class TrainAlgorithm(QgsProcessingAlgorithm):
    DATASET, KIND, SPLIT, ARCHITECTURE, PRESET = "DATASET", "KIND", "SPLIT", "ARCHITECTURE", "PRESET"
    EPOCHS, TEACHER_EPOCHS, BATCH_SIZE, CROP, LR = "EPOCHS", "TEACHER_EPOCHS", "BATCH_SIZE", "CROP", "LR"
    DISTILL, CLOUDS, SEED, DEVICE, RESUME = "DISTILL", "CLOUDS", "SEED", "DEVICE", "RESUME"
    MAX_CLOUD_COVER, SAR_WIDTH = "MAX_CLOUD_COVER", "SAR_WIDTH"
    WORK_DIR, OUTPUT = "WORK_DIR", "OUTPUT"

    def name(self):
        return "train"

    def displayName(self):  # noqa: N802 (QGIS API)
        return "Train EDC weights on a dataset"

    def group(self):
        return "Training"

    def groupId(self):  # noqa: N802
        return "training"

    def shortHelpString(self):  # noqa: N802
        return flowing(HELP)

    def icon(self):
        return QIcon(os.path.join(PLUGIN_DIR, "resources", "icon.svg"))

    def tags(self):
        return ["edc", "train", "training", "deep learning", "weights", "sar", "optical", "cloud"]

    def createInstance(self):  # noqa: N802
        return TrainAlgorithm()

    def initAlgorithm(self, config=None):  # noqa: N802
        self.addParameter(QgsProcessingParameterFile(self.DATASET, "Dataset folder",
                                                     QgsProcessingParameterFile.Folder))
        self.addParameter(QgsProcessingParameterEnum(self.KIND, "Dataset kind", [k[1] for k in KINDS],
                                                     defaultValue=0))
        self.addParameter(QgsProcessingParameterEnum(self.ARCHITECTURE, "Network", [a[1] for a in ARCHITECTURES],
                                                     defaultValue=0))
        self.addParameter(QgsProcessingParameterEnum(self.PRESET, "Model size", PRESETS, defaultValue=1))
        self.addParameter(QgsProcessingParameterNumber(self.EPOCHS, "Epochs (student)",
                                                       QgsProcessingParameterNumber.Integer, 10, False, 1, 1000))
        self.addParameter(QgsProcessingParameterBoolean(self.DISTILL, "Teacher-guided distillation", True))
        self.addParameter(QgsProcessingParameterEnum(self.DEVICE, "Device", [d[1] for d in DEVICES],
                                                     defaultValue=0))
        self.addParameter(QgsProcessingParameterBoolean(self.RESUME, "Resume from the work folder's checkpoint",
                                                        False))
        advanced = [
            QgsProcessingParameterNumber(self.TEACHER_EPOCHS, "Teacher epochs (-1 = half the student epochs)",
                                         QgsProcessingParameterNumber.Integer, -1, False, -1, 1000),
            QgsProcessingParameterNumber(self.BATCH_SIZE, "Batch size", QgsProcessingParameterNumber.Integer, 8,
                                         False, 1, 512),
            QgsProcessingParameterNumber(self.CROP, "Training crop size in pixels (0 = whole samples)",
                                         QgsProcessingParameterNumber.Integer, 192, False, 0, 4096),
            QgsProcessingParameterNumber(self.LR, "Learning rate", QgsProcessingParameterNumber.Double, 0.002,
                                         False, 1e-6, 1.0),
            QgsProcessingParameterNumber(self.CLOUDS, "Chance of synthetic clouds on a clear sample",
                                         QgsProcessingParameterNumber.Double, 0.7, False, 0.0, 1.0),
            QgsProcessingParameterNumber(self.MAX_CLOUD_COVER, "Largest synthetic cloud cover (fraction of a sample)",
                                         QgsProcessingParameterNumber.Double, 0.7, False, 0.05, 1.0),
            QgsProcessingParameterNumber(self.SAR_WIDTH, "SAR stream width, as a fraction of the optical stream's "
                                         "(EDC network only; the presets use 0.5)",
                                         QgsProcessingParameterNumber.Double, 0.5, False, *SAR_WIDTH_RANGE),
            QgsProcessingParameterNumber(self.SEED, "Random seed", QgsProcessingParameterNumber.Integer, 0, False,
                                         0, 2 ** 31 - 1),
            QgsProcessingParameterFile(self.WORK_DIR, "Work folder (checkpoints, logs, plots; empty = next to the "
                                       "weights file)", QgsProcessingParameterFile.Folder, optional=True),
        ]
        from qgis.core import QgsProcessingParameterString
        advanced.insert(0, QgsProcessingParameterString(self.SPLIT, "Training split(s), comma-separated",
                                                        "train"))
        for param in advanced:
            param.setFlags(param.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
            self.addParameter(param)
        self.addParameter(QgsProcessingParameterFileDestination(self.OUTPUT, "Weights file",
                                                                "EDC weights (*.pt)"))
        self.addOutput(QgsProcessingOutputString("METRICS", "Validation metrics (JSON)"))
        self.addOutput(QgsProcessingOutputString("WORK_DIR_USED", "Work folder"))

    def options(self, parameters, context):
        """The TrainOptions the parameters describe (also used by the tests)."""
        from ..model.training import TrainOptions
        output = self.parameterAsFileOutput(parameters, self.OUTPUT, context)
        if not output:
            raise QgsProcessingException("Choose where to write the weights file (.pt).")
        if not output.lower().endswith(".pt"):
            output = os.path.splitext(output)[0] + ".pt"
        dataset = self.parameterAsFile(parameters, self.DATASET, context)
        if not dataset or not os.path.isdir(dataset):
            raise QgsProcessingException(f"The dataset folder '{dataset}' does not exist; choose the folder that "
                                         "holds the training data.")
        work = self.parameterAsFile(parameters, self.WORK_DIR, context) or os.path.splitext(output)[0] + "_run"
        teacher = self.parameterAsInt(parameters, self.TEACHER_EPOCHS, context)
        architecture = ARCHITECTURES[self.parameterAsEnum(parameters, self.ARCHITECTURE, context)][0]
        return TrainOptions(
            data=dataset, dataset=KINDS[self.parameterAsEnum(parameters, self.KIND, context)][0], out=work,
            train_split=self.parameterAsString(parameters, self.SPLIT, context) or "train",
            architecture=architecture,
            sar_width=self.parameterAsDouble(parameters, self.SAR_WIDTH, context) if architecture == "edc" else None,
            preset=PRESETS[self.parameterAsEnum(parameters, self.PRESET, context)],
            epochs=self.parameterAsInt(parameters, self.EPOCHS, context),
            teacher_epochs=None if teacher < 0 else teacher,
            batch_size=self.parameterAsInt(parameters, self.BATCH_SIZE, context),
            crop=self.parameterAsInt(parameters, self.CROP, context) or None,
            lr=self.parameterAsDouble(parameters, self.LR, context),
            cloud_probability=self.parameterAsDouble(parameters, self.CLOUDS, context),
            max_cloud_coverage=self.parameterAsDouble(parameters, self.MAX_CLOUD_COVER, context),
            w_distill=0.5 if self.parameterAsBoolean(parameters, self.DISTILL, context) else 0.0,
            seed=self.parameterAsInt(parameters, self.SEED, context),
            device=DEVICES[self.parameterAsEnum(parameters, self.DEVICE, context)][0],
            resume=self.parameterAsBoolean(parameters, self.RESUME, context),
            weights_out=output, progress_bar=False)

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        opts = self.options(parameters, context)
        from ..model.training import train  # heavy imports (torch) only when the algorithm runs
        feedback.pushInfo(f"Training {opts.architecture} ({opts.preset}) on '{opts.data}'; work folder: {opts.out}")
        try:
            summary = train(opts, progress=feedback.setProgress, is_cancelled=feedback.isCanceled,
                            log=feedback.pushInfo)
        except EDCCancelled:
            raise QgsProcessingException(f"Training cancelled. The last finished epoch is saved in '{opts.out}'; "
                                         "run again with 'Resume' ticked to continue.") from None
        except EDCError as exc:
            raise QgsProcessingException(str(exc)) from None
        feedback.pushInfo(f"Weights written to {summary['weights']}; use them as 'Weights file' in edc:segment.")
        return {self.OUTPUT: summary["weights"], "METRICS": json.dumps(summary["metrics"]),
                "WORK_DIR_USED": opts.out}

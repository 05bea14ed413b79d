"""A labelled corpus of free-text radiology reports, for measuring how well modality and body part are read.

Each report is assembled from hand-written pieces (exam titles, technique sentences, findings, impressions,
clinical histories, comparisons) laid out the ways real exports write them: a title line in capitals before any
heading, "EXAM:" or "PROCEDURE:" headings, a technique paragraph and no title, headings in either case or alone on
their line, one flattened line, numbered impressions, all capitals. A seeded `random.Random` draws the pieces, so
the corpus is the same on every run, and each text carries its true modality (and body part where one is clear).

The hard cases of issue 14 are built in several times each: titles that name the exam by its views or series
("FIVE VIEWS OF THE LUMBAR SPINE", "FOOT SERIES", "PA AND LATERAL CHEST"), nuclear stress tests ("LEXISCAN
MYOCARDIAL PERFUSION"), heart catheterisations and other fluoroscopic studies, and text that only mentions another
modality: "3.2 cm craniocaudal" in a CT or ultrasound, "BI-RADS 4" in a breast MRI or ultrasound, "PT/PTT" and
"pt" in the history, "Compared with the CT of 2019", "recommend MRI".

    from tests.data.report_corpus import build_corpus, corpus_frame
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import polars as pl

SEED = 14


@dataclass(frozen=True)
class LabelledReport:
    report_id: str
    text: str  # the whole report, as one export cell or one .txt file holds it
    modality: str  # the true code; "unknown" where a radiologist could not tell either
    body_part: str | None  # the true body part; None where the report names no single one (whole-body PET)
    exam_line: str | None  # what names the exam: the title (or first block), the EXAM:/PROCEDURE: text, a leading
    # technique paragraph; None when only a TECHNIQUE: section says how it was done
    technique: str | None  # the TECHNIQUE: section's text, where the report has one
    findings: str
    impression: str
    layout: str


@dataclass(frozen=True)
class Exam:
    """One kind of exam and the pieces its reports are built from; `{side}` and `{cm}`-like fields are drawn."""

    modality: str
    body_part: str | None
    count: int  # reports drawn of this kind
    titles: tuple[str, ...]
    techniques: tuple[str, ...]
    findings: tuple[str, ...]
    impressions: tuple[str, ...]


# Clinical histories, many mentioning another modality or a word that looks like a modality code.
HISTORIES = (
    "Pain.",
    "Follow-up.",
    "Trauma, fall from standing.",
    "{age}-year-old with shortness of breath.",
    "Pt with elevated PT/PTT prior to procedure.",
    "PT/INR 1.{d}. Rule out bleed.",
    "Pt fell at home, evaluate for injury.",
    "DX: cough and fever.",
    "Recently returned to the US from abroad; fever.",
    "History of myasthenia gravis (MG).",
    "Cr 1.{d}, on aspirin 81 mg daily.",
    "Referred by Dr. XXXX for further evaluation.",
    "Mr. XXXX reports worsening symptoms.",
    "Abnormal US at an outside hospital.",
    "Prior CT showed an indeterminate finding.",
    "Known malignancy, restaging. Prior PET/CT XX/XX/XXXX.",
    "Pt on warfarin, PT/PTT pending.",
    "XXXX-year-old female with XXXX.",
    "Status post PT for {weeks} weeks without improvement.",
)

COMPARISONS = (
    "None.",
    "None available.",
    "CT of {year}.",
    "Prior MRI dated XX/XX/{year}.",
    "Ultrasound from {year}.",
    "Radiographs from XX/XX/XXXX.",
    "PET/CT of {year}.",
    "Mammogram of {year}.",
    "Outside study, report only.",
)

# Sentences that mention another exam in passing; a report takes one now and then.
MENTIONS = (
    "Compared with the CT of {year}, there is no significant change.",
    "Recommend MRI for further evaluation if clinically indicated.",
    "Correlation with ultrasound could be considered.",
    "The prior PET/CT was reviewed for comparison.",
    "Findings were discussed with Dr. XXXX at {hour}:{minute}.",
    "Follow-up CT in {months} months is suggested.",
)

SIDES = ("left", "right")

XRAY = (
    Exam(
        "xray",
        "chest",
        20,
        titles=(
            "CHEST X-RAY 2 VIEWS",
            "XR CHEST PA AND LATERAL",
            "PA AND LATERAL CHEST",
            "CHEST PA AND LATERAL",
            "SINGLE FRONTAL VIEW OF THE CHEST",
            "Single frontal view of the chest",
            "PORTABLE CHEST 1 VIEW",
            "Chest, 2 views, frontal and lateral",
            "CR CHEST PORTABLE AP",
            "DX CHEST 2V",
            "Chest radiograph, two views",
            "AP PORTABLE CHEST",
            "Two-view chest",
            "CHEST, SINGLE VIEW",
            "Chest PA & lateral",
        ),
        techniques=(
            "PA and lateral views of the chest were obtained.",
            "Single frontal view of the chest was obtained.",
            "Frontal and lateral views of the chest.",
            "Portable AP view of the chest at {hour}:{minute}.",
        ),
        findings=(
            "The lungs are clear.",
            "No focal consolidation, pleural effusion or pneumothorax.",
            "Heart size is normal.",
            "The cardiomediastinal silhouette is within normal limits.",
            "Mild bibasilar atelectasis.",
            "Right PICC tip projects over the cavoatrial junction.",
            "Degenerative changes of the thoracic spine.",
            "A {cm} cm nodular opacity projects over the left mid lung.",
            "Small left pleural effusion with adjacent opacity.",
            "Endotracheal tube tip is {cm} cm above the carina.",
        ),
        impressions=(
            "No acute cardiopulmonary process.",
            "Mild bibasilar atelectasis.",
            "Possible left lung nodule; recommend CT chest for further evaluation.",
            "Small left pleural effusion.",
            "Lines and tubes as described.",
        ),
    ),
    Exam(
        "xray",
        "lower_extremity",
        16,
        titles=(
            "FOOT SERIES",
            "{SIDE} FOOT SERIES",
            "XR {SIDE} FOOT 3 VIEWS",
            "Three views of the {side} foot",
            "{SIDE} ANKLE SERIES",
            "{SIDE} ANKLE 3 VIEWS",
            "{SIDE} KNEE, FOUR VIEWS",
            "BILATERAL KNEES STANDING AP AND LATERAL",
            "X-ray {side} hip 2 views",
            "{SIDE} TIBIA AND FIBULA 2 VIEWS",
            "{Side} foot series, weight bearing",
        ),
        techniques=("Three views of the {side} foot.", "AP, mortise and lateral views.", "Standing AP views."),
        findings=(
            "No acute fracture or dislocation.",
            "Joint spaces are preserved.",
            "Mild degenerative narrowing of the medial compartment.",
            "Soft tissue swelling over the lateral malleolus.",
            "Diffuse osteopenia.",
            "Small plantar calcaneal spur.",
            "Healing fracture of the {side} fifth metatarsal base with callus formation.",
            "Small suprapatellar joint effusion.",
        ),
        impressions=(
            "No acute osseous abnormality.",
            "Healing fifth metatarsal fracture.",
            "Mild osteoarthritis. MRI could be considered if symptoms persist.",
            "Soft tissue swelling without fracture.",
        ),
    ),
    Exam(
        "xray",
        "upper_extremity",
        8,
        titles=(
            "{SIDE} HAND 3 VIEWS",
            "HAND SERIES",
            "XR {SIDE} WRIST",
            "{SIDE} SHOULDER SERIES",
            "{Side} shoulder, 2 views",
            "{SIDE} ELBOW THREE VIEWS",
            "Shoulder, Grashey and axillary views",
        ),
        techniques=("Three views of the {side} hand.", "AP and lateral views of the {side} elbow."),
        findings=(
            "No acute fracture or dislocation.",
            "Nondisplaced fracture of the distal radius.",
            "Mild first carpometacarpal joint arthritis.",
            "Acromioclavicular joint degenerative change.",
            "No radiopaque foreign body.",
            "Elbow joint effusion without visible fracture.",
        ),
        impressions=(
            "No acute fracture.",
            "Nondisplaced distal radius fracture.",
            "Degenerative change as above.",
            "Joint effusion; an occult fracture is not excluded.",
        ),
    ),
    Exam(
        "xray",
        "spine",
        9,
        titles=(
            "FIVE VIEWS OF THE LUMBAR SPINE",
            "LUMBAR SPINE 5 VIEWS",
            "Five views, lumbar spine",
            "C-SPINE SERIES",
            "CERVICAL SPINE, FLEXION AND EXTENSION VIEWS",
            "XR THORACIC SPINE 2 VIEWS",
            "Lumbar spine, five views including obliques",
        ),
        techniques=("Five views of the lumbar spine.", "AP, lateral and odontoid views of the cervical spine."),
        findings=(
            "Vertebral body heights are maintained.",
            "Mild multilevel disc space narrowing, most pronounced at L4-L5.",
            "No spondylolisthesis.",
            "No abnormal motion on flexion and extension.",
            "Facet arthropathy of the lower lumbar spine.",
            "Grade 1 anterolisthesis of L5 on S1 measuring {mm} mm.",
        ),
        impressions=(
            "Degenerative changes without acute fracture.",
            "Grade 1 anterolisthesis of L5 on S1.",
            "No instability.",
            "Multilevel degenerative disc disease; MRI may be obtained if radicular symptoms persist.",
        ),
    ),
    Exam(
        "xray",
        "abdomen",
        7,
        titles=("KUB", "ABDOMEN 2 VIEWS", "ACUTE ABDOMINAL SERIES", "XR ABDOMEN SUPINE AND UPRIGHT", "Abdomen, 1 view"),
        techniques=("Supine and upright views of the abdomen.", "Single supine view of the abdomen."),
        findings=(
            "Nonobstructive bowel gas pattern.",
            "Multiple dilated loops of small bowel with air-fluid levels.",
            "No free intraperitoneal air.",
            "Moderate stool burden throughout the colon.",
            "A {mm} mm calcific density projects over the right renal shadow.",
        ),
        impressions=(
            "Nonobstructive bowel gas pattern.",
            "Findings concerning for small bowel obstruction; CT could be obtained.",
            "Moderate stool burden.",
            "Possible right renal calculus.",
        ),
    ),
    Exam(
        "xray",
        None,
        4,
        titles=("SKELETAL SURVEY", "BONE SURVEY FOR MYELOMA", "Metastatic bone survey"),
        techniques=("Radiographs of the axial and appendicular skeleton.",),
        findings=(
            "No lytic or blastic lesion.",
            "Multiple small lucent lesions in the calvarium.",
            "No acute fracture.",
            "Diffuse osteopenia.",
        ),
        impressions=("No focal osseous lesion.", "Lucent calvarial lesions, compatible with myeloma."),
    ),
)

CT = (
    Exam(
        "ct",
        "head",
        10,
        titles=(
            "CT HEAD WITHOUT CONTRAST",
            "CT BRAIN WO",
            "Non-contrast CT of the head",
            "CT HEAD/BRAIN W/O CONTRAST",
            "CT head without IV contrast",
            "HEAD CT NONCONTRAST (STROKE PROTOCOL)",
        ),
        techniques=(
            "Axial CT images of the head were obtained without intravenous contrast.",
            "Contiguous axial images of the brain with multiplanar reformatted images.",
        ),
        findings=(
            "No intracranial hemorrhage, mass effect or midline shift.",
            "Gray-white matter differentiation is preserved.",
            "Chronic small vessel ischemic changes in the periventricular white matter.",
            "The visualized paranasal sinuses and mastoid air cells are clear.",
            "A {cm} cm hypoattenuating focus in the left basal ganglia, likely a chronic lacunar infarct.",
            "Ventricles are normal in size.",
        ),
        impressions=(
            "No acute intracranial abnormality.",
            "Chronic small vessel ischemic disease. MRI is more sensitive for acute infarct.",
            "Chronic lacunar infarct.",
        ),
    ),
    Exam(
        "ct",
        "neck",
        9,
        titles=(
            "CT SOFT TISSUE NECK WITH CONTRAST",
            "CT NECK W CONTRAST",
            "CT of the neck with IV contrast",
            "CT SOFT TISSUE NECK",
        ),
        techniques=("Axial CT images of the neck were obtained after intravenous contrast.",),
        findings=(
            "A rim-enhancing fluid collection in the right parapharyngeal space measures {cm} x {cm} cm and {cm} cm"
            " craniocaudal.",
            "A level II lymph node measures {cm} cm in short axis and {cm} cm craniocaudal.",
            "The thyroid gland is enlarged, the left lobe measuring {cm} cm craniocaudal.",
            "The airway is patent.",
            "No suspicious cervical lymphadenopathy.",
            "The visualized lung apices are clear.",
        ),
        impressions=(
            "Right parapharyngeal abscess measuring up to {cm} cm craniocaudal.",
            "Enlarged left thyroid lobe; thyroid ultrasound recommended.",
            "Reactive-appearing cervical lymph nodes.",
            "No acute abnormality of the neck.",
        ),
    ),
    Exam(
        "ct",
        "chest",
        10,
        titles=(
            "CT CHEST WITH CONTRAST",
            "CTA CHEST PE PROTOCOL",
            "CT THORAX WITHOUT CONTRAST",
            "HRCT CHEST",
            "Low-dose CT chest for lung cancer screening",
            "CT angiography of the chest",
        ),
        techniques=(
            "Helical CT images of the chest were obtained after intravenous contrast.",
            "Low-dose CT of the chest without contrast. Dose length product {dlp} mGy-cm.",
        ),
        findings=(
            "No filling defect in the pulmonary arteries to the segmental level.",
            "A {mm} mm solid nodule in the right upper lobe.",
            "Mild centrilobular emphysema.",
            "No mediastinal or hilar lymphadenopathy.",
            "Scattered ground-glass opacities in both lower lobes.",
            "Small pericardial effusion.",
            "Compared with the PET/CT of {year}, the nodule is unchanged.",
        ),
        impressions=(
            "No pulmonary embolism.",
            "{mm} mm right upper lobe nodule. Lung-RADS 3.",
            "Emphysema.",
            "Bilateral ground-glass opacities, likely infectious or inflammatory.",
        ),
    ),
    Exam(
        "ct",
        "abdomen",
        14,
        titles=(
            "CT ABDOMEN AND PELVIS WITH CONTRAST",
            "CT A/P W CONTRAST",
            "CT ABD/PELVIS WITHOUT CONTRAST, RENAL STONE PROTOCOL",
            "CT abdomen pelvis with IV and oral contrast",
            "CT ABDOMEN WITH AND WITHOUT CONTRAST",
            "CAT scan of the abdomen and pelvis",
            "COMPUTED TOMOGRAPHY ABDOMEN AND PELVIS",
        ),
        techniques=(
            "Axial CT images of the abdomen and pelvis were obtained after oral and intravenous contrast.",
            "Helical CT of the abdomen and pelvis without contrast, with coronal and sagittal reformats.",
        ),
        findings=(
            "A {cm} cm hypoattenuating lesion in hepatic segment 7, too small to characterize.",
            "A {cm} cm left adrenal nodule measuring {hu} Hounsfield units on noncontrast images.",
            "The appendix is normal.",
            "A {mm} mm obstructing calculus at the right ureterovesical junction with mild hydronephrosis.",
            "Sigmoid diverticulosis without diverticulitis.",
            "No free fluid or free air.",
            "The gallbladder is unremarkable.",
            "A simple-appearing right renal cyst measures {cm} cm craniocaudal.",
        ),
        impressions=(
            "No acute abdominal or pelvic process.",
            "Obstructing right UVJ calculus with mild hydronephrosis.",
            "Indeterminate hepatic lesion; MRI could characterize it.",
            "Left adrenal adenoma.",
            "Sigmoid diverticulosis without diverticulitis.",
        ),
    ),
    Exam(
        "ct",
        "spine",
        5,
        titles=("CT LUMBAR SPINE WITHOUT CONTRAST", "CT CERVICAL SPINE WO", "CT MYELOGRAM LUMBAR SPINE"),
        techniques=("Axial CT images of the cervical spine with sagittal and coronal reformats.",),
        findings=(
            "No acute fracture or malalignment.",
            "Moderate central canal stenosis at L4-L5.",
            "Multilevel uncovertebral hypertrophy.",
            "Intrathecal contrast outlines normal-appearing nerve roots.",
        ),
        impressions=("No acute fracture of the cervical spine.", "Moderate L4-L5 central canal stenosis."),
    ),
    Exam(
        "ct",
        "lower_extremity",
        3,
        titles=("CT {SIDE} ANKLE WITHOUT CONTRAST", "CT {SIDE} KNEE WO CONTRAST"),
        techniques=("Axial CT images of the {side} lower extremity with multiplanar reformatted images.",),
        findings=(
            "Comminuted fracture of the tibial plafond with {mm} mm articular step-off.",
            "Depressed lateral tibial plateau fracture.",
            "Lipohemarthrosis.",
        ),
        impressions=("Comminuted tibial plafond fracture.", "Lateral tibial plateau fracture."),
    ),
    Exam(
        "ct",
        "cardiac",
        3,
        titles=("CT CORONARY ANGIOGRAPHY", "CCTA WITH CALCIUM SCORE", "CT coronary angiogram"),
        techniques=("Prospectively ECG-gated CT angiography of the coronary arteries.",),
        findings=(
            "Coronary artery calcium score is {score}.",
            "Mild non-obstructive plaque in the proximal LAD.",
            "No significant stenosis.",
        ),
        impressions=("Mild non-obstructive coronary artery disease. CAD-RADS 1.", "No coronary stenosis."),
    ),
)

MRI = (
    Exam(
        "mri",
        "head",
        10,
        titles=(
            "MRI BRAIN WITH AND WITHOUT CONTRAST",
            "MR BRAIN W/WO",
            "BRAIN MR WITHOUT CONTRAST",
            "MRI HEAD",
            "MRA HEAD WITHOUT CONTRAST",
            "Magnetic resonance imaging of the brain",
            "MRI PITUITARY WITH AND WITHOUT CONTRAST",
        ),
        techniques=(
            "Sagittal T1, axial T2, FLAIR and diffusion-weighted images of the brain, before and after gadolinium.",
            "Multiplanar multisequence MR images of the brain were obtained.",
        ),
        findings=(
            "No restricted diffusion to suggest acute infarct.",
            "Scattered T2/FLAIR hyperintense foci in the periventricular white matter.",
            "No abnormal enhancement.",
            "Compared with the CT of {year}, no new abnormality.",
            "A {mm} mm enhancing extra-axial mass along the left frontal convexity, likely a meningioma.",
            "Normal flow voids in the major intracranial arteries.",
        ),
        impressions=(
            "No acute intracranial abnormality.",
            "Nonspecific white matter changes, likely chronic microvascular disease.",
            "Small left frontal meningioma.",
        ),
    ),
    Exam(
        "mri",
        "lower_extremity",
        11,
        titles=(
            "MRI {SIDE} KNEE WITHOUT CONTRAST",
            "MR {SIDE} KNEE",
            "{SIDE} KNEE MRI W/O",
            "MRI {SIDE} ANKLE WITHOUT CONTRAST",
            "MRI {SIDE} HIP WITHOUT CONTRAST",
        ),
        techniques=("Multiplanar proton density and T2-weighted fat-saturated images of the {side} knee.",),
        findings=(
            "Complex tear of the posterior horn of the medial meniscus.",
            "The anterior cruciate ligament is intact.",
            "Tendinosis of the PT tendon without tear.",
            "Moderate joint effusion.",
            "Bone marrow edema in the lateral femoral condyle.",
            "A {cm} cm popliteal cyst.",
            "Partial-thickness tear of the anterior talofibular ligament.",
        ),
        impressions=(
            "Medial meniscal tear.",
            "Posterior tibial tendinosis.",
            "Bone contusion of the lateral femoral condyle.",
            "Partial ATFL tear.",
        ),
    ),
    Exam(
        "mri",
        "upper_extremity",
        5,
        titles=("MR ARTHROGRAM {SIDE} SHOULDER", "MRI {SIDE} SHOULDER WITHOUT CONTRAST", "{SIDE} WRIST MRI"),
        techniques=(
            "After intra-articular gadolinium injection, fat-saturated T1-weighted images of the {side} shoulder.",
        ),
        findings=(
            "Full-thickness tear of the supraspinatus tendon with {mm} mm retraction.",
            "Superior labral tear extending anterior to posterior.",
            "Mild acromioclavicular joint arthrosis.",
            "Intact rotator cuff.",
        ),
        impressions=("Full-thickness supraspinatus tear.", "SLAP tear.", "No rotator cuff tear."),
    ),
    Exam(
        "mri",
        "spine",
        7,
        titles=(
            "MRI LUMBAR SPINE WITHOUT CONTRAST",
            "MRI CERVICAL SPINE W/O",
            "MR L-SPINE",
            "MRI THORACIC SPINE WITH AND WITHOUT CONTRAST",
        ),
        techniques=("Sagittal T1, T2 and STIR and axial T2-weighted images of the lumbar spine.",),
        findings=(
            "Disc desiccation at L4-L5 and L5-S1.",
            "Broad-based disc protrusion at L4-L5 with moderate central canal stenosis.",
            "The conus terminates at L1.",
            "No abnormal marrow signal.",
            "Right paracentral extrusion at L5-S1 contacting the descending right S1 nerve root.",
        ),
        impressions=(
            "Moderate L4-L5 canal stenosis.",
            "L5-S1 extrusion contacting the right S1 nerve root.",
            "Degenerative disc disease without stenosis.",
        ),
    ),
    Exam(
        "mri",
        "breast",
        8,
        titles=(
            "MRI BILATERAL BREASTS WITH AND WITHOUT CONTRAST",
            "BREAST MRI BILATERAL",
            "MR BREAST BILATERAL W/WO",
            "Bilateral breast MRI with dynamic contrast",
        ),
        techniques=("Axial T1 fat-saturated images before and after gadolinium, with subtraction images.",),
        findings=(
            "Scattered fibroglandular tissue with mild background parenchymal enhancement.",
            "A {cm} cm irregular enhancing mass in the {side} breast at 10 o'clock with washout kinetics.",
            "No suspicious enhancement in the contralateral breast.",
            "No axillary lymphadenopathy.",
            "The known biopsy-proven malignancy measures {cm} cm craniocaudal.",
        ),
        impressions=(
            "BI-RADS 4: Suspicious. MRI-guided biopsy is recommended.",
            "BI-RADS 2: Benign.",
            "BI-RADS 6: Known biopsy-proven malignancy.",
            "BI-RADS 1: Negative.",
        ),
    ),
    Exam(
        "mri",
        "abdomen",
        5,
        titles=("MRCP", "MRI ABDOMEN WITH AND WITHOUT CONTRAST, LIVER PROTOCOL", "MR abdomen w/wo contrast"),
        techniques=("Multiplanar T1- and T2-weighted images of the abdomen with dynamic gadolinium-enhanced imaging.",),
        findings=(
            "A {cm} cm T2 hyperintense lesion with peripheral nodular enhancement in segment 6.",
            "No intrahepatic or extrahepatic biliary dilatation.",
            "A {mm} mm side-branch IPMN in the pancreatic head.",
            "No choledocholithiasis.",
        ),
        impressions=("Hepatic hemangioma.", "Small side-branch IPMN.", "No choledocholithiasis."),
    ),
    Exam(
        "mri",
        "pelvis",
        3,
        titles=("MRI PELVIS (PROSTATE) WITH AND WITHOUT CONTRAST", "MRI PELVIS WITHOUT CONTRAST"),
        techniques=("Multiparametric MRI of the prostate.",),
        findings=(
            "A {cm} cm T2 hypointense lesion in the left peripheral zone with restricted diffusion.",
            "No extraprostatic extension.",
            "Prostate volume {ml} mL.",
        ),
        impressions=("PI-RADS 4 lesion in the left peripheral zone.", "No suspicious prostate lesion. PI-RADS 2."),
    ),
    Exam(
        "mri",
        "cardiac",
        2,
        titles=("CARDIAC MRI WITH REGADENOSON STRESS PERFUSION", "Cardiac MR, adenosine stress perfusion"),
        techniques=("Cine, stress and rest perfusion and late gadolinium enhancement imaging.",),
        findings=(
            "Left ventricular ejection fraction {pct}%.",
            "No stress-induced perfusion defect.",
            "No late gadolinium enhancement.",
        ),
        impressions=("Normal stress perfusion, no scar.", "Normal biventricular function."),
    ),
)

ULTRASOUND = (
    Exam(
        "ultrasound",
        "abdomen",
        10,
        titles=(
            "US ABDOMEN COMPLETE",
            "ULTRASOUND RIGHT UPPER QUADRANT",
            "RUQ ULTRASOUND",
            "Sonogram of the abdomen",
            "US RENAL",
            "Renal ultrasound",
            "ABDOMINAL ULTRASOUND LIMITED",
        ),
        techniques=("Grayscale and color Doppler images of the right upper quadrant.",),
        findings=(
            "The liver is diffusely echogenic, consistent with steatosis.",
            "Multiple gallstones with posterior acoustic shadowing.",
            "The common bile duct measures {mm} mm.",
            "No hydronephrosis.",
            "The right kidney measures {cm} cm in length.",
            "A {cm} cm anechoic cyst in the upper pole of the left kidney.",
            "Negative sonographic Murphy sign.",
        ),
        impressions=(
            "Cholelithiasis without sonographic evidence of cholecystitis.",
            "Hepatic steatosis.",
            "Simple left renal cyst.",
            "No hydronephrosis. CT could be obtained if stone disease is suspected.",
        ),
    ),
    Exam(
        "ultrasound",
        "pelvis",
        6,
        titles=(
            "US PELVIS TRANSABDOMINAL AND TRANSVAGINAL",
            "PELVIC ULTRASOUND",
            "SCROTAL ULTRASOUND WITH DOPPLER",
            "Ultrasound of the scrotum",
        ),
        techniques=("Transabdominal and transvaginal grayscale and Doppler images.",),
        findings=(
            "The uterus measures {cm} x {cm} x {cm} cm.",
            "Endometrial stripe measures {mm} mm.",
            "A {cm} cm simple-appearing right ovarian cyst.",
            "Normal arterial and venous flow to both testes.",
            "Small left hydrocele.",
        ),
        impressions=("Simple right ovarian cyst.", "Normal pelvic ultrasound.", "No testicular torsion."),
    ),
    Exam(
        "ultrasound",
        "neck",
        5,
        titles=("US THYROID", "THYROID ULTRASOUND", "Ultrasound soft tissues of the neck"),
        techniques=("Grayscale and color Doppler images of the thyroid.",),
        findings=(
            "The right lobe measures {cm} cm craniocaudal, {cm} cm AP and {cm} cm transverse.",
            "A {cm} cm solid hypoechoic nodule in the left lobe measuring {cm} cm craniocaudal.",
            "Heterogeneous echotexture of the gland.",
            "No abnormal cervical lymph nodes.",
        ),
        impressions=(
            "Left thyroid nodule, TI-RADS 4; fine-needle aspiration is recommended.",
            "Heterogeneous thyroid, which can be seen with thyroiditis.",
        ),
    ),
    Exam(
        "ultrasound",
        "breast",
        7,
        titles=(
            "US {SIDE} BREAST LIMITED",
            "BILATERAL BREAST ULTRASOUND",
            "TARGETED ULTRASOUND {SIDE} BREAST",
            "{Side} breast sonogram",
        ),
        techniques=("Targeted grayscale and color Doppler images of the {side} breast.",),
        findings=(
            "At 2 o'clock, {cm} cm from the nipple, a {cm} cm oval circumscribed hypoechoic mass.",
            "The mass corresponds to the mammographic finding.",
            "A {cm} cm simple cyst at 6 o'clock.",
            "Irregular hypoechoic mass with angular margins at 11 o'clock.",
            "No suspicious axillary lymph nodes.",
        ),
        impressions=(
            "BI-RADS 4: Suspicious. Ultrasound-guided core biopsy is recommended.",
            "BI-RADS 2: Benign cyst.",
            "BI-RADS 3: Probably benign fibroadenoma; follow-up in 6 months.",
        ),
    ),
    Exam(
        "ultrasound",
        "lower_extremity",
        3,
        titles=("VENOUS DUPLEX {SIDE} LOWER EXTREMITY", "US VENOUS DOPPLER {SIDE} LEG"),
        techniques=("Grayscale, color and spectral Doppler images of the {side} leg veins with compression.",),
        findings=(
            "The common femoral, femoral and popliteal veins are fully compressible.",
            "Occlusive thrombus in the {side} popliteal vein.",
            "Normal phasic flow.",
        ),
        impressions=("No deep venous thrombosis.", "Acute {side} popliteal vein DVT."),
    ),
    Exam(
        "ultrasound",
        "neck",
        3,
        titles=("CAROTID DOPPLER", "BILATERAL CAROTID DUPLEX"),
        techniques=("Grayscale, color and spectral Doppler of both carotid systems.",),
        findings=(
            "Peak systolic velocity in the right ICA is {psv} cm/s.",
            "Mild heterogeneous plaque at the bilateral carotid bulbs.",
            "Antegrade flow in both vertebral arteries.",
        ),
        impressions=("Less than 50% stenosis of both internal carotid arteries.",),
    ),
    Exam(
        "ultrasound",
        "cardiac",
        3,
        titles=("TRANSTHORACIC ECHOCARDIOGRAM", "DOBUTAMINE STRESS ECHO", "Echocardiogram complete"),
        techniques=("Two-dimensional and Doppler echocardiography.",),
        findings=(
            "Left ventricular ejection fraction is estimated at {pct}%.",
            "Mild mitral regurgitation.",
            "No wall motion abnormality at peak dobutamine stress.",
            "Normal right ventricular size and function.",
        ),
        impressions=("Normal left ventricular function.", "Negative stress echocardiogram for ischemia."),
    ),
)

MAMMOGRAPHY = (
    Exam(
        "mammography",
        "breast",
        20,
        titles=(
            "BILATERAL SCREENING MAMMOGRAM",
            "MAMMO SCREENING BILATERAL WITH TOMOSYNTHESIS",
            "MG DIAGNOSTIC {SIDE}",
            "DIGITAL SCREENING MAMMOGRAPHY, BILATERAL",
            "Diagnostic mammogram {side} breast",
            "SCREENING MAMMOGRAM BILATERAL WITH CAD",
            "MG MAMMO DIAGNOSTIC BILATERAL",
            "Digital breast tomosynthesis, bilateral",
        ),
        techniques=(
            "Standard CC and MLO views of both breasts with tomosynthesis.",
            "Craniocaudal and mediolateral oblique views of the {side} breast, with spot compression views.",
        ),
        findings=(
            "The breasts are heterogeneously dense, which may obscure small masses.",
            "There are scattered areas of fibroglandular density.",
            "No suspicious masses, calcifications or architectural distortion.",
            "A {cm} cm focal asymmetry in the {side} breast upper outer quadrant.",
            "Grouped amorphous calcifications spanning {mm} mm in the {side} breast.",
            "Stable benign-appearing calcifications.",
            "The breasts are almost entirely fatty.",
        ),
        impressions=(
            "BI-RADS 1: Negative. Routine screening mammogram in one year.",
            "BI-RADS 0: Incomplete. Additional imaging with diagnostic views and ultrasound is recommended.",
            "BI-RADS 2: Benign findings.",
            "BI-RADS 4B: Suspicious calcifications; stereotactic biopsy is recommended.",
        ),
    ),
)

NUCLEAR_MEDICINE = (
    Exam(
        "nuclear_medicine",
        "cardiac",
        13,
        titles=(
            "LEXISCAN MYOCARDIAL PERFUSION",
            "LEXISCAN NUCLEAR STRESS TEST",
            "Lexiscan stress test with imaging",
            "REGADENOSON MYOCARDIAL PERFUSION STUDY",
            "MYOCARDIAL PERFUSION IMAGING, REST/STRESS",
            "NM MYOCARDIAL PERFUSION SPECT MULTIPLE",
            "Pharmacologic stress test with Lexiscan",
            "ADENOSINE STRESS TEST WITH IMAGING",
            "SESTAMIBI STRESS TEST",
            "CARDIOLITE STRESS TEST",
            "MYOVIEW REST AND STRESS",
        ),
        techniques=(
            "{dose} mCi Tc-99m sestamibi at rest and after regadenoson 0.4 mg IV, with gated SPECT imaging.",
            "Rest and stress myocardial images after Tc-99m tetrofosmin.",
        ),
        findings=(
            "No reversible perfusion defect.",
            "A small fixed inferior wall defect, likely diaphragmatic attenuation.",
            "Gated images show normal wall motion; LVEF {pct}%.",
            "The ECG portion of the study was nondiagnostic for ischemia.",
            "A moderate reversible defect in the anterior wall.",
            "Transient ischemic dilation ratio is 1.0{d}.",
        ),
        impressions=(
            "No evidence of ischemia or infarct.",
            "Moderate anterior wall ischemia.",
            "Normal myocardial perfusion. LVEF {pct}%.",
            "Probably normal study with attenuation artifact.",
        ),
    ),
    Exam(
        "nuclear_medicine",
        None,
        7,
        titles=(
            "NM BONE SCAN WHOLE BODY",
            "WHOLE BODY BONE SCAN",
            "PET/CT SKULL BASE TO MID-THIGH",
            "FDG PET-CT",
            "NM PET CT WHOLE BODY",
        ),
        techniques=(
            "{dose} mCi Tc-99m MDP IV; whole-body images at 3 hours.",
            "{dose} mCi F-18 FDG; images from skull base to mid-thigh with low-dose CT.",
        ),
        findings=(
            "Increased radiotracer uptake in the right sixth rib.",
            "Physiologic tracer distribution.",
            "Hypermetabolic right hilar lymph node, SUV max {suv}.",
            "No FDG-avid osseous lesion.",
            "Degenerative uptake in both knees.",
        ),
        impressions=(
            "No scintigraphic evidence of osseous metastatic disease.",
            "Hypermetabolic right hilar node, suspicious for metastasis.",
            "Focal rib uptake, likely post-traumatic; correlate with rib radiographs.",
        ),
    ),
    Exam(
        "nuclear_medicine",
        "lower_extremity",
        2,
        titles=("THREE-PHASE BONE SCAN {SIDE} FOOT", "NM three phase bone scan, {side} foot"),
        techniques=("Flow, blood pool and delayed images after {dose} mCi Tc-99m MDP.",),
        findings=("Increased uptake on all three phases in the {side} calcaneus.", "No other abnormal uptake."),
        impressions=("Findings compatible with osteomyelitis of the {side} calcaneus.",),
    ),
    Exam(
        "nuclear_medicine",
        "abdomen",
        3,
        titles=("HIDA SCAN", "HEPATOBILIARY SCINTIGRAPHY", "GASTRIC EMPTYING STUDY"),
        techniques=("{dose} mCi Tc-99m mebrofenin IV with dynamic imaging for 60 minutes.",),
        findings=(
            "Prompt hepatic uptake and excretion into the small bowel.",
            "The gallbladder is not visualized at 60 minutes or after morphine.",
            "{pct}% of the meal remains in the stomach at 4 hours.",
        ),
        impressions=("Findings consistent with acute cholecystitis.", "Delayed gastric emptying."),
    ),
    Exam(
        "nuclear_medicine",
        "chest",
        2,
        titles=("V/Q SCAN", "NM LUNG VENTILATION AND PERFUSION"),
        techniques=("Ventilation images with Tc-99m DTPA aerosol, then perfusion images with Tc-99m MAA.",),
        findings=("Matched ventilation and perfusion defects at both bases.", "No mismatched perfusion defect."),
        impressions=("Low probability for pulmonary embolism.", "Very low probability of PE."),
    ),
    Exam(
        "nuclear_medicine",
        "neck",
        2,
        titles=("NM THYROID UPTAKE AND SCAN", "I-123 thyroid uptake and scan"),
        techniques=("{dose} uCi I-123 orally; uptake at 4 and 24 hours and pinhole images.",),
        findings=("24-hour uptake is {pct}%.", "Homogeneous tracer distribution in an enlarged gland."),
        impressions=("Findings consistent with Graves disease.",),
    ),
)

FLUOROSCOPY = (
    Exam(
        "fluoroscopy",
        "cardiac",
        9,
        titles=(
            "LEFT HEART CATH",
            "LEFT HEART CATHETERIZATION WITH CORONARY ANGIOGRAPHY",
            "RIGHT AND LEFT HEART CATH",
            "Cardiac catheterization",
            "CORONARY ANGIOGRAM",
            "HEART CATH WITH LEFT VENTRICULOGRAPHY",
            "Left heart cath, selective coronary angiography",
        ),
        techniques=(
            "Via the right radial artery, a 6 French sheath was placed and selective coronary angiography performed.",
            "Right femoral access with a 5 French sheath; left ventriculography in the RAO projection.",
        ),
        findings=(
            "The left main is normal.",
            "The LAD has a {pct}% stenosis in its mid segment.",
            "The right coronary artery is dominant without significant disease.",
            "LVEDP {lvedp} mmHg.",
            "Left ventriculography shows normal wall motion.",
            "Fluoroscopy time {fluoro} minutes.",
        ),
        impressions=(
            "Nonobstructive coronary artery disease.",
            "Severe mid LAD stenosis; PCI recommended.",
            "Normal coronary arteries.",
        ),
    ),
    Exam(
        "fluoroscopy",
        None,
        4,
        titles=("BARIUM SWALLOW", "MODIFIED BARIUM SWALLOW", "ESOPHAGRAM", "Videofluoroscopic swallow study"),
        techniques=("Thin and thick barium were given by mouth under fluoroscopy.",),
        findings=(
            "Laryngeal penetration with thin liquids, cleared with a cough.",
            "No aspiration.",
            "A small sliding hiatal hernia.",
            "Normal esophageal peristalsis.",
        ),
        impressions=("Mild oropharyngeal dysphagia with penetration of thin liquids.", "Small hiatal hernia."),
    ),
    Exam(
        "fluoroscopy",
        "abdomen",
        4,
        titles=("UPPER GI SERIES", "BARIUM ENEMA", "SMALL BOWEL FOLLOW THROUGH", "Single-contrast barium enema"),
        techniques=("Barium was administered and spot images obtained under fluoroscopy.",),
        findings=(
            "Normal gastric contour and emptying.",
            "Contrast reaches the terminal ileum at {minutes} minutes.",
            "Diverticulosis of the sigmoid colon.",
            "No stricture or filling defect.",
        ),
        impressions=("Normal upper GI series.", "Sigmoid diverticulosis.", "Normal small bowel transit."),
    ),
    Exam(
        "fluoroscopy",
        "pelvis",
        4,
        titles=("VCUG", "VOIDING CYSTOURETHROGRAM", "HYSTEROSALPINGOGRAM", "HSG"),
        techniques=("Contrast was instilled under fluoroscopic guidance and pelvic images were obtained.",),
        findings=(
            "Grade 2 vesicoureteral reflux on the {side}.",
            "Normal bladder contour.",
            "Free intraperitoneal spill from both fallopian tubes.",
            "The uterine cavity is normal in contour.",
        ),
        impressions=("{Side} grade 2 vesicoureteral reflux.", "Patent fallopian tubes bilaterally."),
    ),
    Exam(
        "fluoroscopy",
        "spine",
        4,
        titles=(
            "LUMBAR MYELOGRAM",
            "FLUOROSCOPY-GUIDED L4-L5 EPIDURAL STEROID INJECTION",
            "Fluoroscopic guided lumbar puncture",
            "L5-S1 TRANSFORAMINAL EPIDURAL STEROID INJECTION",
        ),
        techniques=("Under fluoroscopic guidance, a 22-gauge spinal needle was advanced.",),
        findings=(
            "Contrast outlines the epidural space without vascular uptake.",
            "{ml} mL of clear CSF was obtained.",
            "No immediate complication.",
        ),
        impressions=("Successful injection.", "Technically successful procedure."),
    ),
    Exam(
        "fluoroscopy",
        "lower_extremity",
        2,
        titles=("FLUORO GUIDED {SIDE} HIP JOINT INJECTION", "{SIDE} HIP ARTHROGRAM"),
        techniques=("Under fluoroscopic guidance, the {side} hip joint was entered from an anterior approach.",),
        findings=("Intra-articular contrast confirmed needle position.", "No immediate complication."),
        impressions=("Successful {side} hip injection.",),
    ),
)

# Reports that name no exam and whose text could come from several modalities: a radiologist could not tell either.
UNKNOWN = (
    Exam(
        "unknown",
        None,
        10,
        titles=(
            "ADDENDUM",
            "ADDENDUM TO PRIOR REPORT",
            "PRELIMINARY REPORT",
            "CORRECTED REPORT",
            "Outside film review",
            "Wet read",
        ),
        techniques=("See the original report.",),
        findings=(
            "The findings were discussed with Dr. XXXX at {hour}:{minute} on XX/XX/XXXX.",
            "No change to the original interpretation.",
            "Stable appearance compared with the prior study.",
            "The laterality in the original report should read {side}.",
            "Lungs are clear.",
            "No acute abnormality.",
            "The nodule described previously is unchanged.",
        ),
        impressions=(
            "No change in the original impression.",
            "As above.",
            "Laterality corrected.",
            "Results communicated to the ordering provider.",
        ),
    ),
)

EXAMS = (*XRAY, *CT, *MRI, *ULTRASOUND, *MAMMOGRAPHY, *NUCLEAR_MEDICINE, *FLUOROSCOPY, *UNKNOWN)

CLINICAL_HEADINGS = ("CLINICAL HISTORY", "HISTORY", "INDICATION", "CLINICAL INDICATION", "REASON FOR EXAM")
FINDINGS_HEADINGS = ("FINDINGS", "FINDINGS", "FINDING", "REPORT")
IMPRESSION_HEADINGS = ("IMPRESSION", "IMPRESSION", "IMPRESSIONS", "CONCLUSION", "OPINION", "SUMMARY")
LAYOUTS = (
    "title",
    "title",
    "title",
    "title_block",
    "exam_heading",
    "exam_heading",
    "procedure_heading",
    "technique_paragraph",
    "technique_heading",
    "flattened",
    "mixed_case",
    "all_caps",
)


def _fields(rng: random.Random, side: str) -> dict[str, object]:
    """Values for the fields of one piece: sizes, years, times and the report's side."""
    return {
        "cm": f"{rng.uniform(0.4, 6.5):.1f}",
        "mm": rng.randint(2, 24),
        "hu": rng.randint(-15, 9),
        "year": rng.randint(2012, 2023),
        "hour": rng.randint(7, 22),
        "minute": f"{rng.randint(0, 59):02d}",
        "months": rng.choice((3, 6, 12)),
        "age": rng.randint(19, 93),
        "d": rng.randint(1, 9),
        "weeks": rng.randint(2, 12),
        "pct": rng.randint(35, 75),
        "dose": rng.randint(8, 30),
        "dlp": rng.randint(60, 450),
        "score": rng.randint(0, 400),
        "suv": f"{rng.uniform(2.5, 14):.1f}",
        "ml": rng.randint(2, 60),
        "psv": rng.randint(60, 140),
        "lvedp": rng.randint(6, 24),
        "fluoro": f"{rng.uniform(1.5, 12):.1f}",
        "minutes": rng.randint(30, 180),
        "side": side,
        "Side": side.capitalize(),
        "SIDE": side.upper(),
    }


def _fill(piece: str, rng: random.Random, side: str) -> str:
    return piece.format(**_fields(rng, side))


def _impression(rng: random.Random, exam: Exam, side: str) -> str:
    chosen = [_fill(p, rng, side) for p in rng.sample(exam.impressions, rng.randint(1, min(2, len(exam.impressions))))]
    if len(chosen) > 1 and rng.random() < 0.6:  # numbered impressions are common
        return "\n".join(f"{i}. {line}" for i, line in enumerate(chosen, 1))
    return " ".join(chosen)


def _findings(rng: random.Random, exam: Exam, side: str) -> str:
    sentences = [_fill(p, rng, side) for p in rng.sample(exam.findings, rng.randint(2, min(4, len(exam.findings))))]
    if rng.random() < 0.3:
        sentences.append(_fill(rng.choice(MENTIONS), rng, side))
    return " ".join(sentences)


def _sections(rng: random.Random, heading, history: str, comparison: str, findings: str, impression: str) -> list:
    parts = [(heading(rng.choice(CLINICAL_HEADINGS)), history)]
    if rng.random() < 0.6:
        parts.append((heading("COMPARISON"), comparison))
    parts += [
        (heading(rng.choice(FINDINGS_HEADINGS)), findings),
        (heading(rng.choice(IMPRESSION_HEADINGS)), impression),
    ]
    return parts


def _render(parts: list[tuple[str, str]], rng: random.Random) -> str:
    """Headed sections, the heading before its text with a colon, or alone on its line."""
    if rng.random() < 0.7:
        return "\n\n".join(f"{h}: {text}" for h, text in parts)
    return "\n\n".join(f"{h}\n{text}" for h, text in parts)


@dataclass(frozen=True)
class _Written:
    text: str
    exam_line: str | None
    technique: str | None


def _report(rng: random.Random, exam: Exam, layout: str, findings: str, impression: str, side: str) -> _Written:
    """One report of `exam` written in `layout`."""
    title = _fill(rng.choice(exam.titles), rng, side)
    technique = _fill(rng.choice(exam.techniques), rng, side)
    history, comparison = _fill(rng.choice(HISTORIES), rng, side), _fill(rng.choice(COMPARISONS), rng, side)
    parts = _sections(
        rng, str.title if layout == "mixed_case" else str.upper, history, comparison, findings, impression
    )
    if layout in ("title", "all_caps", "mixed_case"):
        headed = rng.random() < 0.5
        if headed:
            parts.insert(-2, ("Technique" if layout == "mixed_case" else "TECHNIQUE", technique))
        text = f"{title}\n\n{_render(parts, rng)}"
        if layout == "all_caps":  # old RIS exports hold capitals only
            return _Written(text.upper(), title.upper(), technique.upper() if headed else None)
        return _Written(text, title, technique if headed else None)
    if layout == "title_block":  # a history line with no heading under the title: the first block is both
        block = f"{title}\n{history}"
        return _Written(f"{block}\n\n{_render(parts[1:], rng)}", block, None)
    if layout in ("exam_heading", "procedure_heading"):
        label = "EXAM" if layout == "exam_heading" else "PROCEDURE"
        return _Written(f"{label}: {title}\n{_render(parts, rng)}", title, None)
    if layout == "technique_paragraph":
        return _Written(f"{technique}\n\n{_render(parts, rng)}", technique, None)
    if layout == "technique_heading":
        parts.insert(-2, ("TECHNIQUE", technique))
        return _Written(_render(parts, rng), None, technique)
    # flattened: an export that lost its newlines, headings inline in capitals
    flat = " ".join(f"{h}: {text}" for h, text in [("EXAM", title), *parts]).replace("\n", " ")
    return _Written(flat, title, None)


def build_corpus(seed: int = SEED) -> list[LabelledReport]:
    """Every exam kind's reports, each in a layout drawn for it, all texts distinct."""
    rng = random.Random(seed)
    reports: list[LabelledReport] = []
    seen: set[str] = set()
    for exam in EXAMS:
        made = 0
        while made < exam.count:
            layout, side = rng.choice(LAYOUTS), rng.choice(SIDES)
            findings, impression = _findings(rng, exam, side), _impression(rng, exam, side)
            written = _report(rng, exam, layout, findings, impression, side)
            if written.text in seen:
                continue
            seen.add(written.text)
            made += 1
            if layout == "all_caps":
                findings, impression = findings.upper(), impression.upper()
            reports.append(
                LabelledReport(
                    f"R{len(reports) + 1:03d}",
                    written.text,
                    exam.modality,
                    exam.body_part,
                    written.exam_line,
                    written.technique,
                    findings,
                    impression,
                    layout,
                )
            )
    return reports


def corpus_frame(seed: int = SEED) -> pl.DataFrame:
    """`build_corpus` as a frame, one column per `LabelledReport` field."""
    rows = [vars(report) for report in build_corpus(seed)]
    return pl.DataFrame(rows, schema={name: pl.String for name in LabelledReport.__dataclass_fields__})

"""Reports in: reading exports (`readers`), splitting free text at its headings (`sections`), the quarantine
rules and schema (`ingest`, `validation`), the PHI screen (`phi`), modality and body part (`segment`),
patient-level splits (`split`) and the exploratory analysis (`eda`)."""

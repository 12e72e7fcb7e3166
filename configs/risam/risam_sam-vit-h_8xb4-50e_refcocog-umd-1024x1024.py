# RISAM, SAM ViT-H + CLIP ViT-B/16 (frozen), G-Ref UMD split (paper Tab. 1, §4.2):
# (CLIP ViT-B/16 is our choice: the paper says "GPT-2.0 pre-trained by CLIP".)
# Adam 1e-4, 50 epochs (x0.1 at 30, 42), 8 GPUs x 4 images, input 1024.
# Word limit (§4.2, "maximum word number") = 25, set twice: the dataset's
# max_words keeps the first 25 whitespace words of a sentence, and the text
# encoder's max_tokens = 25 is CLIP's context after BPE, which counts the
# start and end tokens (SOT, EOT), so at most 23 BPE tokens of the sentence
# reach the model (a word may be several tokens; the last kept one becomes
# EOT). max_tokens is therefore the tighter of the two.
_base_ = [
    './_base_/models/risam_sam-vit-h.py', './_base_/datasets/refcocog.py',
    './_base_/schedules/schedule_50e.py', './_base_/default_runtime.py'
]
max_words = 25  # == the dataset's max_words (see the data base file)
model = dict(text_encoder=dict(max_tokens=max_words))
custom_imports = dict(imports=['projects.risam'], allow_failed_imports=False)
default_scope = 'mmseg'

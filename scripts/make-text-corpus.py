#!/usr/bin/env python3
"""Writes ft4j's synthetic English text sets as JSON lines ({"text": ...}):

  data/calibration-en.jsonl   texts for INT8 calibration (ft4j calibrate --data ...)
  data/eval-en.jsonl          texts for INT8 accuracy checks, none of them in the calibration set

Sentences are drawn from templates over a dozen everyday domains with a fixed seed, so the files
are reproducible: python3 scripts/make-text-corpus.py. Lengths vary from a few words to several
sentences; a few lines mix in digits, punctuation and non-English words.
"""
import json
import os
import random

SUBJECTS = {
    "support": ["my laptop", "the printer", "the router", "this phone", "the app", "my account",
                "the VPN client", "the backup job", "the shared drive", "the password reset"],
    "cooking": ["the risotto", "a sourdough loaf", "the tomato sauce", "the curry", "my pancakes",
                "the roast chicken", "a lemon tart", "the lentil soup", "the dumplings", "the salad"],
    "travel": ["the train to Lyon", "our flight", "the hotel", "the ferry", "the night bus",
               "the museum pass", "the rental car", "the hostel", "the mountain hut", "the tour"],
    "finance": ["the quarterly report", "our revenue", "the interest rate", "the budget",
                "the pension fund", "the invoice", "operating costs", "the exchange rate",
                "the mortgage", "the tax return"],
    "sports": ["the home team", "the goalkeeper", "the marathon", "the tennis final",
               "the relay squad", "the coach", "the cycling stage", "the league table",
               "the striker", "the swim meet"],
    "science": ["the telescope", "the enzyme", "the protein sample", "the climate model",
                "the particle detector", "the bacteria culture", "the glacier", "the reactor",
                "the fossil", "the neural network"],
    "health": ["the patient", "my knee", "the vaccine", "the blood test", "the new diet",
               "the physiotherapy", "my sleep", "the allergy", "the prescription", "the clinic"],
    "legal": ["the contract", "the tenant", "the court", "the appeal", "the patent",
              "the privacy policy", "the lease", "the settlement", "the witness", "the license"],
    "shopping": ["the blue jacket", "my order", "the headphones", "the refund", "the sofa",
                 "the running shoes", "the gift card", "the delivery", "the coffee machine",
                 "the warranty"],
    "weather": ["the storm", "the heat wave", "the morning fog", "the snow", "the wind",
                "the forecast", "the flood warning", "the drought", "the thunder", "the frost"],
    "history": ["the empire", "the treaty", "the old castle", "the revolution", "the manuscript",
                "the trade route", "the ancient city", "the dynasty", "the cathedral",
                "the expedition"],
    "code": ["the unit test", "the build", "the database query", "the memory leak",
             "the API endpoint", "the cache", "the deployment", "the thread pool",
             "the compiler", "the merge request"],
}
VERBS = ["failed again after", "improved a lot since", "was delayed because of", "looks fine despite",
         "changed completely after", "broke down during", "got cheaper after", "became popular after",
         "was cancelled due to", "needs attention before", "surprised everyone during",
         "stayed the same after"]
EVENTS = ["the update last night", "the long weekend", "the heavy rain", "the new regulation",
          "the meeting on Monday", "the holiday season", "the power outage", "the price change",
          "the final round", "the inspection", "the software migration", "the winter break",
          "the election", "the audit", "the conference in Berlin", "a week of testing"]
QUESTIONS = ["How do I fix {s}?", "Why is {s} so slow today?", "What happened to {s}?",
             "Where can I find information about {s}?", "Is {s} worth the money?",
             "When will {s} be ready?", "Can someone explain {s} to me?",
             "Who is responsible for {s}?"]
ADVICE = ["Try restarting it and check the logs.", "Ask a specialist before deciding.",
          "Compare at least three offers first.", "Write down every step you take.",
          "Wait a day and look again.", "Read the documentation carefully.",
          "Call the help line in the morning.", "Keep the receipt just in case."]
EXTRA = ["It cost about {n} euros.", "That took {n} minutes.", "We measured {n} percent more.",
         "Reference number: {code}.", "See section {n}.{m} for details.",
         "The temperature reached {n} degrees.", "Around {n} people were there."]
FOREIGN = ["C'est la vie.", "Danke schön!", "¡Qué sorpresa!", "Grazie mille.", "Spasibo.",
           "Arigatō.", "Tack så mycket.", "Obrigado!"]


def sentence(rng):
    domain = rng.choice(list(SUBJECTS))
    s = rng.choice(SUBJECTS[domain])
    kind = rng.random()
    if kind < 0.25:
        text = rng.choice(QUESTIONS).format(s=s)
    elif kind < 0.35:
        text = s.capitalize()  # a very short text
    else:
        text = f"{s.capitalize()} {rng.choice(VERBS)} {rng.choice(EVENTS)}."
    extra = rng.random()
    if extra < 0.3:
        text += " " + rng.choice(ADVICE)
    if extra < 0.15 or 0.6 < extra < 0.7:
        text += " " + rng.choice(EXTRA).format(
            n=rng.randint(2, 950), m=rng.randint(1, 9),
            code=f"{rng.choice('ABCDEFGH')}{rng.randint(1000, 99999)}")
    if rng.random() < 0.05:
        text += " " + rng.choice(FOREIGN)
    if rng.random() < 0.1:  # a longer text: a few more sentences
        for _ in range(rng.randint(2, 6)):
            text += " " + sentence(rng)
    return text


def texts(seed, count, exclude=()):
    rng = random.Random(seed)
    seen = set(exclude)
    out = []
    while len(out) < count:
        t = sentence(rng)
        if t not in seen:
            seen.add(t)
            out.append(t)
    return out


def write(path, lines):
    with open(path, "w", encoding="utf-8") as f:
        for t in lines:
            f.write(json.dumps({"text": t}, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data")
    os.makedirs(root, exist_ok=True)
    calibration = texts(20261123, 400)
    evaluation = texts(77, 240, exclude=calibration)
    write(os.path.join(root, "calibration-en.jsonl"), calibration)
    write(os.path.join(root, "eval-en.jsonl"), evaluation)
    print(f"{len(calibration)} calibration texts, {len(evaluation)} evaluation texts")

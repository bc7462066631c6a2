"""The two workloads of bench/speculative.py, generated (same seed, same prompts every run).

- summarize: minutes of a council meeting (about 600 tokens: names, figures, quoted lines), a
  different meeting per sequence, with an instruction to summarize or quote it, as Telegram's
  summaries and replies about a chat do: the answer repeats much of the prompt;
- chat: open questions with little to repeat (stories, advice, explanations).
"""

from __future__ import annotations

import random

PEOPLE = ["Elena Vasquez", "Tomas Brandt", "Ines Okafor", "Piet de Groot", "Mara Lindqvist",
          "Jonas Weber", "Aiko Tanaka", "Rui Carvalho", "Nadia Haddad", "Owen Gallagher"]
ROLES = ["the mayor", "the treasurer", "councillor", "the harbor master", "the clerk"]
TOPICS = ["the new breakwater on the north pier", "the ferry timetable for the summer",
          "the repair of the fish market roof", "the school bus to Upper Alder",
          "the budget for street lighting", "the festival of the lanterns",
          "parking on Quay Street", "the water main under Mill Lane"]
VERBS = ["proposed", "asked about", "objected to", "supported", "questioned the cost of"]
INSTRUCTIONS = [
    "Summarize these minutes in a few sentences. Quote every decision word for word.",
    "List each speaker and quote exactly what they said.",
    "Quote the sentences that mention money, word for word.",
    "Rewrite these minutes as a list of points, keeping every name and number exactly.",
    "Which decisions were taken? Quote them exactly as written.",
    "Write a short message to the residents that repeats the decisions word for word.",
    "Quote what the mayor said, then what the treasurer said.",
    "Summarize the discussion about each topic, quoting the speakers.",
]
CHAT = [
    "Write a short story about a lighthouse keeper who befriends a seagull.",
    "Give me five tips for learning to cook at home.",
    "Explain how rain forms, for a ten-year-old.",
    "Describe an ideal weekend in the mountains.",
    "What should I think about before adopting a dog?",
    "Write a poem about the first snow of winter.",
    "How do bees make honey? Explain step by step.",
    "Invent a new board game and describe its rules.",
]


def minutes(seed: int) -> str:
    """One meeting's minutes: who spoke about what, the figures, and the decisions."""
    rng = random.Random(seed)
    people = rng.sample(PEOPLE, 5)
    lines = [f"Minutes of the Port Alder harbor council, meeting {seed + 1}.",
             f"Present: {', '.join(people)}."]
    for topic in rng.sample(TOPICS, 4):
        speaker, other = rng.sample(people, 2)
        amount = rng.randint(12, 95) * 1000
        lines.append(f"{speaker}, {rng.choice(ROLES)}, {rng.choice(VERBS)} {topic}. "
                     f"\"{topic.capitalize()} will cost {amount} crowns,\" {speaker} said.")
        lines.append(f"{other} answered: \"We should decide on {topic} before the end of "
                     f"{rng.choice(['March', 'May', 'June', 'October'])}.\"")
        votes = rng.randint(3, 5)
        lines.append(f"Decision: the council approves {topic} at {amount} crowns, "
                     f"{votes} votes in favour.")
    return "\n".join(lines)


def summarize_prompts(count: int) -> list[str]:
    return [f"{INSTRUCTIONS[i % len(INSTRUCTIONS)]}\n\n{minutes(i)}" for i in range(count)]


def chat_prompts(count: int) -> list[str]:
    return [CHAT[i % len(CHAT)] for i in range(count)]


WORKLOADS = {"summarize": summarize_prompts, "chat": chat_prompts}

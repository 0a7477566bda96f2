"""Groups as code: a groups file declares groups, members and admins; plan and apply make it so.

- :mod:`bot.membership.model`: what a groups file declares and what a plan
  changes (plain data, shared by every part);
- :mod:`bot.membership.file`: reading and checking a groups file;
  :mod:`bot.membership.dump`: writing the live state as one;
- :mod:`bot.membership.plan`: the changes that would make the live groups
  match the file; :mod:`bot.membership.apply`: carrying them out, safely and
  resumably.
"""
